package main

import (
	"fmt"
	"sync"
)

// Pool decodes and routes lines on n worker goroutines.
type Pool struct {
	lines chan string
	quit  chan struct{}
	wg    sync.WaitGroup
}

func NewPool(n int) *Pool {
	p := &Pool{lines: make(chan string), quit: make(chan struct{})}
	for i := 0; i < n; i++ {
		p.wg.Add(1)
		go p.work(i)
	}
	return p
}

func (p *Pool) work(id int) {
	defer p.wg.Done()
	for {
		select {
		case line := <-p.lines:
			if err := route(decode(line)); err != nil {
				fmt.Fprintf(out, "worker %d: %v\n", id, err)
			}
		case <-p.quit:
			return
		}
	}
}

func (p *Pool) Submit(line string) { p.lines <- line }

// Stop ends the workers and waits for them.
func (p *Pool) Stop() {
	close(p.quit)
	p.wg.Wait()
}
