/* libFuzzer target: CPython framing as a connection decodes it. Any byte
 * stream must give whole messages, then MP_ECLOSED, MP_EPROTO or
 * MP_EMSGSIZE; never a crash, an out-of-bounds access, or an allocation
 * past max_message. The first byte picks how messages are read. */
#include <stdint.h>

#include "fuzz_common_conn.h"
#include "base/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint64_t len;
    size_t hlen;
    (void)mp__frame_parse(data + 1, size - 1, &len, &hlen);
    int peer;
    mp_conn *c = fuzz_conn(data + 1, size - 1, &peer);
    if (!c)
        return 0;
    mp_buf b = {0};
    uint8_t small[64];
    int rc = 0;
    for (int i = 0; rc == 0 && i < 10000; i++) {
        size_t got;
        if ((data[0] >> (i & 7)) & 1)
            rc = mp_conn_recv(c, &b, 0);
        else if ((rc = mp_conn_recv_into(c, small, sizeof small, &got, 0)) ==
                 MP_EMSGSIZE)
            rc = mp_conn_recv(c, &b, 0); /* the message must still be there */
        if (rc == 0 && mp_conn_poll(c, 0) == MP_ECLOSED)
            break;
    }
    if (b.cap > (1u << 20) + 1) /* max_message and the NUL after it */
        __builtin_trap();
    mp_buf_free(&b);
    mp_conn_free(c);
    close(peer);
    return 0;
}
