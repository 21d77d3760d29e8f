module example.com/app

go 1.22

require (
	example.com/other v0.1.0
	example.com/vulnmod v1.2.0
)
