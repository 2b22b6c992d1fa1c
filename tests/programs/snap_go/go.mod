module snapgo

go 1.19
