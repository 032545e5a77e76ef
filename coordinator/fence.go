package coordinator

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// fencedTxn commits ops only while the leadership term l is still
// current in etcd: the transaction also compares the election key's
// create revision with l.Epoch. A deposed leader's write fails with
// ErrFenced even if it has not noticed yet, because the key it was
// elected with is gone (or was re-created with a later revision).
// cmps are further conditions; when one of them fails the result is
// ErrFenced too, so callers that need to tell the two apart must check
// their own conditions first.
func fencedTxn(ctx context.Context, client *clientv3.Client, l Leadership, cmps []clientv3.Cmp, ops ...clientv3.Op) error {
	all := append([]clientv3.Cmp{clientv3.Compare(clientv3.CreateRevision(l.Key), "=", l.Epoch)}, cmps...)
	resp, err := client.Txn(ctx).If(all...).Then(ops...).Commit()
	if err != nil {
		return fmt.Errorf("coordinator: fenced transaction of term %d: %w", l.Epoch, err)
	}
	if !resp.Succeeded {
		return ErrFenced
	}
	return nil
}
