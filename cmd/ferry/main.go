// Command ferry carries supply-chain security data across an air gap.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ferry-dev/ferry/cmd/ferry/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	root := cli.New()
	err := root.ExecuteContext(ctx)
	stop()
	os.Exit(cli.ExitCode(root, err))
}
