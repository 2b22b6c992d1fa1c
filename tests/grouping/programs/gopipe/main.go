// gopipe: decode and route records read from stdin on a pool of worker goroutines.
//
//	gopipe [-port N] < records        (GOPIPE_WORKERS sets the pool size)
//
// A "drain" line stops the pool early; the records after it are not routed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
)

func main() {
	port := flag.String("port", "7070", "listening port")
	flag.Parse()
	cfg := loadConfig()
	cfg.Port = parsePort(*port)
	out = os.Stdout
	p := NewPool(cfg.Workers)
	defer p.Stop()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if in.Text() == "drain" {
			p.Stop()
			break
		}
		if in.Text() != "" {
			p.Submit(in.Text())
		}
	}
	fmt.Println("served on port", cfg.Port, counts)
}
