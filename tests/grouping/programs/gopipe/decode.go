package main

import (
	"strconv"
	"strings"
)

// Message is one decoded record.
type Message struct {
	Kind    string
	Payload []byte
	Fields  [][]byte
}

// Decoder cuts fields out of a record's payload.
type Decoder struct {
	buf []byte
}

func (d *Decoder) field(off, n int) []byte {
	return d.buf[off : off+n]
}

// decode parses "KIND PAYLOAD OFF:LEN..." into a Message.
func decode(line string) Message {
	f := strings.Fields(line)
	m := Message{Kind: f[0]}
	if len(f) > 1 {
		m.Payload = []byte(f[1])
	}
	d := &Decoder{buf: m.Payload}
	for _, spec := range f[min(2, len(f)):] {
		off, n, _ := strings.Cut(spec, ":")
		o, _ := strconv.Atoi(off)
		l, _ := strconv.Atoi(n)
		m.Fields = append(m.Fields, d.field(o, l))
	}
	return m
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
