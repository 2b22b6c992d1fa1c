package main

import (
	"fmt"
	"sync"
)

// Index maps a key's first letter to the keys that start with it.
type Index struct {
	byPrefix map[string][]string
}

func (ix *Index) add(key string) {
	p := key[:1]
	ix.byPrefix[p] = append(ix.byPrefix[p], key)
}

// rebuild re-indexes n generated keys with one goroutine per writer.
func (ix *Index) rebuild(writers, n int) {
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				ix.add(fmt.Sprintf("%c%d", 'a'+(i+w)%26, i))
			}
		}(w)
	}
	wg.Wait()
}
