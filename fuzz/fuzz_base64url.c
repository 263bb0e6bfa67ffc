/* libFuzzer harness: strict base64url and strict padded base64.
 * Invariants: whatever decodes re-encodes to exactly the input (one accepted
 * spelling per byte string), the output never exceeds the advertised bound,
 * and any bytes round-trip through encode then decode. */
#include <stdlib.h>
#include <string.h>
#include "mj_core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *in = (const char *)data;
    size_t max = mj_b64url_decoded_max(size), got = 0;
    unsigned char *out = malloc(max + 1);
    char *again = malloc(mj_b64url_encoded_len(max) + 4 + (size / 3 + 1) * 4);
    char *enc = malloc((size / 3 + 1) * 4 + 4);
    size_t n;

    if (out == NULL || again == NULL || enc == NULL)
        abort();

    if (mj_b64url_decode(in, size, out, &got) == MJ_OK) {
        if (got > max)
            abort();
        n = mj_b64url_encode(out, got, again);
        if (n != size || memcmp(again, in, size) != 0)
            abort(); /* decoding accepted a non-canonical spelling */
    }

    got = 0;
    if (mj_b64_strict_decode(in, size, out, &got) == MJ_OK) {
        if (got > max)
            abort();
        n = mj_b64_encode(out, got, again);
        if (n != size || memcmp(again, in, size) != 0)
            abort();
    }

    /* The input as bytes: encode, then decode, must give it back. */
    n = mj_b64url_encode(data, size, enc);
    if (n != mj_b64url_encoded_len(size))
        abort();
    {
        unsigned char *back = malloc(mj_b64url_decoded_max(n) + 1);
        size_t back_len = 0;
        if (back == NULL)
            abort();
        if (mj_b64url_decode(enc, n, back, &back_len) != MJ_OK || back_len != size ||
            memcmp(back, data, size) != 0)
            abort();
        free(back);
    }

    free(out);
    free(again);
    free(enc);
    return 0;
}
