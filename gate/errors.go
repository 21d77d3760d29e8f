package gate

import (
	"errors"
	"fmt"
	"strings"
)

// ErrRecordTampered is returned (wrapped) when a decision record or its
// signed envelope does not verify: bytes edited, a signature that does not
// match, a record that is not in canonical form.
var ErrRecordTampered = errors.New("decision record does not verify")

// ErrInvalidPolicy is returned (wrapped, as PolicyErrors) for a policy that
// cannot be used.
var ErrInvalidPolicy = errors.New("invalid policy")

// PolicyError is one mistake in a policy file.
type PolicyError struct {
	File  string // the policy file
	Line  int    // 1-based, 0 if unknown
	Field string // e.g. "environments.prod.block.severity"
	Msg   string
}

func (e *PolicyError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	return b.String()
}

// PolicyErrors is every mistake found in a policy, in file order.
type PolicyErrors []*PolicyError

func (es PolicyErrors) Error() string {
	if len(es) == 1 {
		return "policy: " + es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems in the policy:", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidPolicy) true.
func (es PolicyErrors) Is(target error) bool { return target == ErrInvalidPolicy }
