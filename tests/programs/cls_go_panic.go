// Go runtime crashes, one per argv[1], for the classifier: run with GOTRACEBACK=crash so the
// runtime dumps core (SIGABRT) after printing the panic or fatal error.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"unsafe"
)

type account struct {
	owner   *account
	balance int
}

type quotaError struct{ used, limit int }

func (e quotaError) Error() string { return fmt.Sprintf("quota %d/%d", e.used, e.limit) }

func balanceOf(a *account) int { return a.owner.balance }

func pick(items []int, i int) int { return items[i] }

func window(items []int, from, to int) []int { return items[from:to] }

func ratio(total, parts int) int { return total / parts }

func record(counts map[string]int, key string) { counts[key]++ }

func depth(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return depth(n+1) + int(pad[n%64])
}

func main() {
	how := "nil"
	if len(os.Args) > 1 {
		how = os.Args[1]
	}
	n := len(os.Args) // 2 when a mode is given
	items := []int{1, 2, 3}
	switch how {
	case "nil":
		fmt.Println(balanceOf(&account{}))
	case "index":
		fmt.Println(pick(items, n+3))
	case "slice":
		fmt.Println(window(items, 1, n+8))
	case "div":
		fmt.Println(ratio(10, n-2))
	case "panic":
		panic("order " + strconv.Itoa(n) + " has no items")
	case "error":
		panic(errors.New("config: missing port"))
	case "custom":
		panic(quotaError{used: 12, limit: n * 5})
	case "nilmap":
		var counts map[string]int
		record(counts, "requests")
	case "closed":
		done := make(chan bool)
		close(done)
		close(done)
	case "unlock":
		var mu sync.Mutex
		mu.Unlock()
	case "deadlock":
		block := make(chan int)
		<-block
	case "recurse":
		debug.SetMaxStack(1 << 20)
		fmt.Println(depth(0))
	case "wild":
		p := (*int)(unsafe.Pointer(uintptr(0xdead0000 + n)))
		fmt.Println(*p)
	case "wild-panic":
		debug.SetPanicOnFault(true)
		p := (*int)(unsafe.Pointer(uintptr(0xdead0000 + n)))
		fmt.Println(*p)
	}
}
