// Package whole is a package vulnerable as a whole.
package whole

import "fmt"

//go:noinline
func Do() { fmt.Println("whole") }
