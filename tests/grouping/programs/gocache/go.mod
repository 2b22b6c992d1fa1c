module gocache

go 1.19
