/* libFuzzer harness: the GitLab secret-file parser (the bytes of a file).
 * Invariants: an accepted file is exactly the strict base64 of the 32 bytes
 * it yields, followed by at most one line ending; anything else is one of
 * the secret-file statuses. */
#include <stdlib.h>
#include <string.h>
#include "mj_core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    const char *buf = (const char *)data;
    unsigned char out[MJ_SECRET_LEN];
    char enc[64];
    size_t body = size, n;
    int status = mj_secret_parse(buf, size, out);

    if (status == MJ_OK) {
        n = mj_b64_encode(out, MJ_SECRET_LEN, enc);
        if (n != 44)
            abort();
        if (body >= 2 && buf[body - 2] == '\r' && buf[body - 1] == '\n')
            body -= 2;
        else if (body >= 1 && (buf[body - 1] == '\n' || buf[body - 1] == '\r'))
            body -= 1;
        if (body != n || memcmp(enc, buf, n) != 0)
            abort();
    } else if (status != MJ_ERR_FILE_EMPTY && status != MJ_ERR_FILE_TOO_LARGE &&
               status != MJ_ERR_FILE_BASE64 && status != MJ_ERR_FILE_LENGTH) {
        abort();
    }
    return 0;
}
