// Package e2e holds the end-to-end journey across a network namespace,
// built only with the e2e tag: make e2e (see e2e_test.go).
package e2e
