package images

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ParseAttachment returns the Attachment of kind whose manifest is digest
// and whose subject is subject, both "sha256:<hex>" as a store lists
// them. A malformed digest fails, naming which one: an attachment is
// never dropped silently from what Verify reports.
func ParseAttachment(kind, digest, subject string) (Attachment, error) {
	d, err := v1.NewHash(digest)
	if err != nil {
		return Attachment{}, fmt.Errorf("%s %q: %w", kind, digest, err)
	}
	s, err := v1.NewHash(subject)
	if err != nil {
		return Attachment{}, fmt.Errorf("%s %s: subject %q: %w", kind, digest, subject, err)
	}
	return Attachment{Kind: kind, Digest: d, Subject: s}, nil
}
