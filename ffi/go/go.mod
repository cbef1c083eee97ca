module nook.dev/nook

go 1.19
