package main

import (
	"fmt"
	"os"
	"strconv"
)

// must stops the program on an error that cannot be handled here.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// Config is read from the environment and the command line.
type Config struct {
	Workers int
	Port    int
}

func loadConfig() Config {
	c := Config{Workers: 4, Port: 7070}
	if v, ok := os.LookupEnv("GOPIPE_WORKERS"); ok {
		n, err := strconv.Atoi(v)
		must(err)
		c.Workers = n
	}
	return c
}

func parsePort(s string) int {
	port, err := strconv.Atoi(s)
	if err == nil && (port <= 0 || port > 65535) {
		err = fmt.Errorf("port %d out of range", port)
	}
	must(err)
	return port
}
