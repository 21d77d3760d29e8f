// Command app links some of example.com/vulnmod for the symbol evidence
// tests (symbols_test.go): Good but not Bad, a pointer and a value method,
// generic instantiations, a function inlined everywhere, a whole package,
// and only a constant of example.com/other.
package main

import (
	"fmt"
	"os"

	"example.com/other"
	"example.com/vulnmod"
	"example.com/vulnmod/whole"
)

func main() {
	vulnmod.Good()
	t := &vulnmod.T{N: len(os.Args)}
	t.Method()
	fmt.Println(t.Value())
	fmt.Println(vulnmod.Map([]int{1, 2}, func(i int) string { return fmt.Sprint(i) }))
	b := &vulnmod.Box[string]{V: "x"}
	fmt.Println(b.Get())
	fmt.Println(vulnmod.Tiny(len(os.Args)))
	whole.Do()
	fmt.Println(other.Answer)
}
