package consensus

import "slices"

// unionFind groups vulnerability ids that alias each other. The root of a
// group is its smallest id, so groups do not depend on join order.
type unionFind struct {
	parent map[string]string
	// After freeze: root of every id, and each root's sorted ids.
	roots  map[string]string
	groups map[string][]string
}

func newUnionFind() *unionFind { return &unionFind{parent: map[string]string{}} }

func (u *unionFind) find(x string) string {
	p, ok := u.parent[x]
	if !ok {
		u.parent[x] = x
		return x
	}
	if p == x {
		return x
	}
	r := u.find(p)
	u.parent[x] = r
	return r
}

// lookup returns x's root; call it only after freeze.
func (u *unionFind) lookup(x string) (string, bool) {
	r, ok := u.roots[x]
	return r, ok
}

func (u *unionFind) join(ids ...string) {
	first := ""
	for _, id := range ids {
		if id == "" {
			continue
		}
		if first == "" {
			first = u.find(id)
			continue
		}
		a, b := u.find(first), u.find(id)
		if a == b {
			continue
		}
		if b < a {
			a, b = b, a
		}
		u.parent[b] = a
		first = a
	}
}

// freeze computes every id's root and every group's members; after it,
// lookup and members only read (safe for concurrent use).
func (u *unionFind) freeze() {
	u.roots, u.groups = make(map[string]string, len(u.parent)), map[string][]string{}
	for _, id := range sortedKeys(u.parent) {
		r := u.find(id)
		u.roots[id] = r
		u.groups[r] = append(u.groups[r], id)
	}
}

// members returns a copy of the sorted ids of root's group.
func (u *unionFind) members(root string) []string { return slices.Clone(u.groups[root]) }
