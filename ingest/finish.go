package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"sightline/models"
)

// finishPG is the last round trip of a group's transaction on PostgreSQL: the COPY of
// the new raw messages, the statements that apply them to the end users and the
// rollups, and COMMIT, written in one go and answered together. pgx would take three
// exchanges for it (COPY waits for its own answer, then a pipelined batch), and the
// wake-ups of each exchange, on both sides, were a good part of a group's fixed cost.
//
// PostgreSQL runs the messages in order. The first error aborts the transaction and
// skips the statements up to the Sync; the COMMIT after it then rolls back. So the
// group is stored whole or not at all, and the first error is returned.
func finishPG(ctx context.Context, pc *pgx.Conn, copyData []byte, statements []models.Statement) error {
	conn := pc.PgConn()
	// Each statement is prepared once per connection (one round trip the first time).
	described := make([]*pgconn.StatementDescription, len(statements))
	for i, st := range statements {
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
	fe.SendQuery(&pgproto3.Query{String: copyRawSQL})
	fe.Send(&pgproto3.CopyData{Data: copyData})
	fe.Send(&pgproto3.CopyDone{})
	var eqb pgx.ExtendedQueryBuilder
	for i, st := range statements {
		if err := eqb.Build(pc.TypeMap(), described[i], st.Args); err != nil {
			// Half the group waits in the connection's buffer: drop the connection.
			conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // it is unusable anyway
			return fmt.Errorf("ingest: unable to encode a statement: %w", err)
		}
		fe.SendBind(&pgproto3.Bind{PreparedStatement: described[i].Name, ParameterFormatCodes: eqb.ParamFormats,
			Parameters: eqb.ParamValues, ResultFormatCodes: eqb.ResultFormats})
		fe.SendExecute(&pgproto3.Execute{})
	}
	fe.SendSync(&pgproto3.Sync{})
	fe.SendQuery(&pgproto3.Query{String: "COMMIT"})
	if err := fe.Flush(); err != nil {
		conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // half-written: the connection is unusable
		return fmt.Errorf("ingest: unable to send the group: %w", err)
	}
	// Three ReadyForQuery end the answer: after the COPY, the Sync and the COMMIT.
	var first error
	committed := false
	for ready := 0; ready < 3; {
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // the answer is lost: so is the connection
			return fmt.Errorf("ingest: unable to read the group's answer: %w", err)
		}
		switch msg := msg.(type) {
		case *pgproto3.ReadyForQuery:
			ready++
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
