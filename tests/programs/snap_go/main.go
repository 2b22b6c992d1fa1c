// Go crashes for the snapshot tests, run with GOTRACEBACK=crash (the runtime re-raises the
// signal so that the kernel dumps core): argv[1] "panic" panics, "nil" dereferences a nil
// pointer in main.walk (SIGSEGV turned into a panic by runtime.sigpanic), "busy" does the
// same while four goroutines spin on threads of their own, "unlock" unlocks an unlocked
// mutex in main.release (a fatal error: runtime.throw crashes on the system stack), "inline"
// dereferences a nil pointer in main.tailValue, inlined into main.sumTails.
package main

import (
	"os"
	"runtime"
	"sync"
)

type Node struct {
	next *Node
	v    int
}

//go:noinline
func walk(n *Node) int { return n.next.v }

// Small enough for the compiler to inline into sumTails: the nil dereference is at a pc of
// sumTails whose inline frames say tailValue.
func tailValue(n *Node) int {
	return n.next.v // the nil dereference of mode "inline"
}

//go:noinline
func sumTails(nodes []*Node) int {
	total := 0
	for _, n := range nodes {
		total += tailValue(n)
	}
	return total
}

//go:noinline
func release(mu *sync.Mutex) { mu.Unlock() }

//go:noinline
func spin(ready *sync.WaitGroup) {
	runtime.LockOSThread()
	ready.Done()
	for n := 0; ; n++ {
		if n < 0 {
			println(n)
		}
	}
}

func main() {
	mode := "nil"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	if mode == "panic" {
		panic("custom failure")
	}
	if mode == "unlock" {
		var mu sync.Mutex
		release(&mu)
	}
	if mode == "busy" {
		runtime.GOMAXPROCS(6)
		var ready sync.WaitGroup
		ready.Add(4)
		for i := 0; i < 4; i++ {
			go spin(&ready)
		}
		ready.Wait()
	}
	if mode == "inline" {
		println(sumTails([]*Node{{next: &Node{v: 1}}, {}}))
	}
	println(walk(&Node{}))
}
