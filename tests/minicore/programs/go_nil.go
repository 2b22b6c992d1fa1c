// A Go program that dies of a nil map entry dereference in a goroutine, with GOTRACEBACK=crash
// (the runtime then re-raises SIGSEGV itself, and the kernel dumps core).
package main

import (
	"fmt"
	"os"
)

type order struct {
	id    int
	items []string
}

//go:noinline
func total(orders map[int]*order, id int) int {
	o := orders[id]
	return o.id + len(o.items)
}

func main() {
	orders := map[int]*order{1: {id: 1, items: []string{"a", "b"}}}
	done := make(chan int)
	go func() {
		done <- total(orders, len(os.Args)+1)
	}()
	fmt.Println(<-done)
}
