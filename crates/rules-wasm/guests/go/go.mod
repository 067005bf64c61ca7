module example.com/acme-rules

go 1.24
