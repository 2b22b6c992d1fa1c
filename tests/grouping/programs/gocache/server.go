package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Server answers one command per line.
type Server struct {
	cache *Cache
	root  *node
	stats *Stats
	index *Index
	out   io.Writer
}

func NewServer(capacity int, out io.Writer) *Server {
	return &Server{
		cache: NewCache(capacity),
		root:  newNode(""),
		stats: newStats(),
		index: &Index{byPrefix: map[string][]string{}},
		out:   out,
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func arg(args []string, i int) string {
	if i < len(args) {
		return args[i]
	}
	return ""
}

func (s *Server) handle(line string) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return
	}
	cmd, args := f[0], f[1:]
	s.stats.record(cmd, len(line))
	switch cmd {
	case "set":
		s.cache.Set(arg(args, 0), arg(args, 1))
		walk(s.root, split(arg(args, 0)), 0).keys++
	case "get":
		v, ok := s.cache.Get(arg(args, 0))
		fmt.Fprintln(s.out, v, ok)
	case "del":
		s.cache.Delete(arg(args, 0))
	case "trim":
		fmt.Fprintln(s.out, "evicted", s.cache.Trim(atoi(arg(args, 0))))
	case "ls":
		n := walk(s.root, split(arg(args, 0)), atoi(arg(args, 1)))
		fmt.Fprintln(s.out, n.name, len(n.children), n.keys)
	case "resize":
		s.cache.Resize(atoi(arg(args, 0)))
	case "mean":
		fmt.Fprintln(s.out, "mean size of", arg(args, 0), mean(s.stats.sizes[arg(args, 0)]))
	case "reindex":
		s.index.rebuild(atoi(arg(args, 0)), atoi(arg(args, 1)))
	case "reset":
		s.stats = &Stats{}
	default:
		panic(fmt.Sprintf("unknown command %q", cmd))
	}
}
