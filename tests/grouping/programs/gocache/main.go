// gocache: a small cache server answering commands read from stdin.
//
//	gocache [-capacity N] [-workers N] < commands
//
// With -workers N > 0 the commands are handled by a goroutine of their own, as connections are.
package main

import (
	"bufio"
	"flag"
	"os"
)

func serve(s *Server, lines []string, workers int) {
	if workers == 0 {
		for _, l := range lines {
			s.handle(l)
		}
		return
	}
	done := make(chan struct{})
	go func() {
		for _, l := range lines {
			s.handle(l)
		}
		close(done)
	}()
	<-done
}

func main() {
	capacity := flag.Int("capacity", 16, "entries kept")
	workers := flag.Int("workers", 0, "handle commands on a goroutine")
	flag.Parse()
	var lines []string
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		lines = append(lines, in.Text())
	}
	s := NewServer(*capacity, os.Stdout)
	serve(s, lines, *workers)
}
