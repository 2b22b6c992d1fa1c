package main

import (
	"fmt"
	"io"
	"sync"
)

// handlers by message kind. Every handler is a func(Message) error... but "metric", which was
// registered with the older signature.
var handlers = map[string]interface{}{
	"text":   func(m Message) error { return record("text", len(m.Payload)) },
	"event":  func(m Message) error { return record("event", len(m.Fields)) },
	"metric": func(name string, v float64) { _ = record(name, int(v)) },
}

var (
	mu     sync.Mutex
	counts = map[string]int{}
	out    io.Writer
)

func record(name string, n int) error {
	mu.Lock()
	defer mu.Unlock()
	counts[name] += n
	return nil
}

func route(m Message) error {
	h, ok := handlers[m.Kind]
	if !ok {
		return fmt.Errorf("no handler for %q", m.Kind)
	}
	return h.(func(Message) error)(m)
}
