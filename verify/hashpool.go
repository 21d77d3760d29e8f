package verify

import (
	"crypto/sha256"
	"runtime"
)

// maxPooledEntry is the largest entry hashed off the reading goroutine:
// larger ones are hashed as they stream, without a copy in memory.
const maxPooledEntry = 4 << 20

// maxPooledBytes caps the bytes read ahead of the hashing.
const maxPooledBytes = 64 << 20

// hashPool hashes entries on every core while the kit is read on one
// goroutine, and applies each entry's outcome in the order the entries
// came. It is used by one goroutine; the hashing runs on others.
type hashPool struct {
	workers int
	sem     chan struct{}
	queue   []*hashJob
	bytes   int64
	free    [][]byte
}

type hashJob struct {
	data  []byte
	sum   [sha256.Size]byte
	done  chan struct{}
	apply func(sum [sha256.Size]byte)
}

func newHashPool() *hashPool {
	w := runtime.GOMAXPROCS(0)
	return &hashPool{workers: w, sem: make(chan struct{}, w)}
}

// buffer returns a buffer of n bytes, reused from finished entries when
// one is large enough.
func (p *hashPool) buffer(n int64) []byte {
	for i, b := range p.free {
		if int64(cap(b)) >= n {
			p.free = append(p.free[:i], p.free[i+1:]...)
			return b[:n]
		}
	}
	return make([]byte, n)
}

// add hashes data on another goroutine; apply gets the sum, on the
// caller's goroutine, after the outcomes of every entry added before.
func (p *hashPool) add(data []byte, apply func([sha256.Size]byte)) {
	j := &hashJob{data: data, done: make(chan struct{}), apply: apply}
	p.queue = append(p.queue, j)
	p.bytes += int64(cap(data))
	p.sem <- struct{}{}
	go func() {
		j.sum = sha256.Sum256(j.data)
		<-p.sem
		close(j.done)
	}()
	for p.bytes > maxPooledBytes {
		p.finishOne()
	}
	// Apply what is already done, without waiting.
	for len(p.queue) > 0 {
		select {
		case <-p.queue[0].done:
			p.finishOne()
			continue
		default:
		}
		break
	}
}

// finishOne waits for the oldest entry and applies its outcome.
func (p *hashPool) finishOne() {
	j := p.queue[0]
	p.queue[0] = nil
	p.queue = p.queue[1:]
	<-j.done
	p.bytes -= int64(cap(j.data))
	if len(p.free) < 2*p.workers+2 {
		p.free = append(p.free, j.data)
	}
	j.apply(j.sum)
}

// drain applies the outcome of every entry added.
func (p *hashPool) drain() {
	for len(p.queue) > 0 {
		p.finishOne()
	}
}
