module github.com/chatrooms/chatrooms

go 1.26.8

require (
	github.com/gobwas/ws v1.5.0
	github.com/mtibben/confusables v0.0.0-20210201002637-9d1b0723b659
	golang.org/x/text v0.44.0
)

require github.com/gobwas/httphead v0.1.0 // indirect
