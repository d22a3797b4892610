package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"sightline/models"
)

// finishPG is the last round trip of a group's transaction on PostgreSQL: the COPY of
// the new raw messages, the statements that apply them to the end users and the
// rollups, and COMMIT, written in one go and answered together; opening, when given,
// goes first (a group with nothing to read first sends its BEGIN there). pgx would
// take three exchanges for it (COPY waits for its own answer, then a pipelined batch),
// and the wake-ups of each exchange, on both sides, were a good part of a group's
// fixed cost.
//
// PostgreSQL runs the messages in order. The first error aborts the transaction and
// skips the statements up to the next Sync; what follows fails in the aborted
// transaction, and the COMMIT at the end rolls back. So the group is stored whole or
// not at all, and the first error is returned.
func finishPG(ctx context.Context, pc *pgx.Conn, opening []models.Statement, copyData []byte, statements []models.Statement) error {
	conn := pc.PgConn()
	// Each statement is prepared once per connection (one round trip the first time).
	all := append(slices.Clip(opening), statements...)
	described := make([]*pgconn.StatementDescription, len(all))
	for i, st := range all {
		sd, err := pc.Prepare(ctx, st.SQL, st.SQL)
		if err != nil {
			return fmt.Errorf("ingest: unable to prepare: %w", err)
		}
		described[i] = sd
	}
	if deadline, ok := ctx.Deadline(); ok {
		// The raw exchange below does not watch ctx: the connection's deadline bounds it.
		if err := conn.Conn().SetDeadline(deadline); err != nil {
			return err
		}
		defer conn.Conn().SetDeadline(time.Time{}) //nolint:errcheck // a broken connection is closed below
	}
	fe := conn.Frontend()
	var eqb pgx.ExtendedQueryBuilder
	// send queues the statements all[from:to], then a Sync.
	send := func(from, to int) error {
		for i := from; i < to; i++ {
			if err := eqb.Build(pc.TypeMap(), described[i], all[i].Args); err != nil {
				return err
			}
			fe.SendBind(&pgproto3.Bind{PreparedStatement: described[i].Name, ParameterFormatCodes: eqb.ParamFormats,
				Parameters: eqb.ParamValues, ResultFormatCodes: eqb.ResultFormats})
			fe.SendExecute(&pgproto3.Execute{})
		}
		fe.SendSync(&pgproto3.Sync{})
		return nil
	}
	ready := 3 // ReadyForQuery messages that end the answer: after the COPY, a Sync, COMMIT
	err := error(nil)
	if len(opening) > 0 {
		err = send(0, len(opening))
		ready++
	}
	fe.SendQuery(&pgproto3.Query{String: copyRawSQL})
	fe.Send(&pgproto3.CopyData{Data: copyData})
	fe.Send(&pgproto3.CopyDone{})
	if err == nil {
		err = send(len(opening), len(all))
	}
	if err != nil {
		// Half the group waits in the connection's buffer: drop the connection.
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // it is unusable anyway
		return fmt.Errorf("ingest: unable to encode a statement: %w", err)
	}
	fe.SendQuery(&pgproto3.Query{String: "COMMIT"})
	if err := fe.Flush(); err != nil {
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // half-written: the connection is unusable
		return fmt.Errorf("ingest: unable to send the group: %w", err)
	}
	var first error
	committed := false
	for ready > 0 {
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the answer is lost: so is the connection
			return fmt.Errorf("ingest: unable to read the group's answer: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.ReadyForQuery:
			ready--
		case *pgproto3.ErrorResponse:
			if first == nil {
				first = pgconn.ErrorResponseToPgError(msg)
			}
		case *pgproto3.CommandComplete:
			committed = string(msg.CommandTag) == "COMMIT"
		}
	}
	if first != nil {
		return fmt.Errorf("ingest: unable to store the group: %w", first)
	}
	if !committed || conn.TxStatus() != 'I' {
		return errors.New("ingest: the group's transaction did not commit")
	}
	return nil
}
