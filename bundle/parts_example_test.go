package bundle_test

import (
	"fmt"

	"github.com/ferry-dev/ferry/bundle"
)

func ExampleParseSize() {
	for _, s := range []string{"700MiB", "4GiB", "4.7GB"} {
		n, _ := bundle.ParseSize(s)
		fmt.Println(s, n)
	}
	// Output:
	// 700MiB 734003200
	// 4GiB 4294967296
	// 4.7GB 4700000000
}

func ExampleSplitPartPath() {
	kit, n, ok := bundle.SplitPartPath("media/acme-42.kit.tar.zst.003")
	fmt.Println(kit, n, ok)
	fmt.Println(bundle.PartName(kit, n+1))
	fmt.Println(kit + bundle.PartIndexSuffix)
	// Output:
	// media/acme-42.kit.tar.zst 3 true
	// media/acme-42.kit.tar.zst.004
	// media/acme-42.kit.tar.zst.parts.json
}
