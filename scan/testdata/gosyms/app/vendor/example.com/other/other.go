// Package other holds only a constant: its module is in the build info,
// none of its functions in the binary.
package other

const Answer = 42
