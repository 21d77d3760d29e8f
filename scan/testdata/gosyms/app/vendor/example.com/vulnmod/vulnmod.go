// Package vulnmod is a stand-in for a vulnerable module.
package vulnmod

import "fmt"

//go:noinline
func Bad() { fmt.Println("bad") }

//go:noinline
func Good() { fmt.Println("good") }

// T has a pointer method and a value method.
type T struct{ N int }

//go:noinline
func (t *T) Method() { t.N++ }

//go:noinline
func (t T) Value() int { return t.N * 2 }

// Map is generic.
//
//go:noinline
func Map[A, B any](in []A, f func(A) B) []B {
	var out []B
	for _, a := range in {
		out = append(out, f(a))
	}
	return out
}

// Box is a generic type with a method.
type Box[V any] struct{ V V }

//go:noinline
func (b *Box[V]) Get() V { return b.V }

// Tiny is inlined into every caller: only the inline tree names it.
func Tiny(n int) int { return n + 1 }
