package main

import "strings"

// node is a directory of the key namespace ("a/b/c").
type node struct {
	name     string
	children map[string]*node
	keys     int
}

func newNode(name string) *node { return &node{name: name, children: map[string]*node{}} }

func (n *node) child(name string) *node {
	c, ok := n.children[name]
	if !ok {
		c = newNode(name)
		n.children[name] = c
	}
	return c
}

func split(path string) []string { return strings.Split(strings.Trim(path, "/"), "/") }

// walk returns the node depth levels down path (depth 0: the first segment).
func walk(root *node, segs []string, depth int) *node {
	n := root
	for i := 0; i <= depth; i++ {
		n = n.child(segs[i])
	}
	return n
}
