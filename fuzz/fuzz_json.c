/* libFuzzer harness: the strict JSON object check and the UTF-8 check.
 * Invariants: an accepted object is valid UTF-8 as a whole, starts with '{'
 * (after whitespace), and has no more top-level members than bytes. */
#include <stdlib.h>
#include "mj_core.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    size_t members = (size_t)-1, i = 0;
    int status = mj_json_object_check(data, size, &members);
    int utf8 = mj_utf8_valid(data, size);

    if (status == MJ_OK) {
        if (!utf8)
            abort(); /* accepted JSON with invalid UTF-8 */
        while (i < size && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r'))
            i++;
        if (i >= size || data[i] != '{' || members > size)
            abort();
    } else if (status != MJ_ERR_JSON && status != MJ_ERR_JSON_DEPTH && status != MJ_ERR_UTF8) {
        abort(); /* an unexpected status code */
    }
    return 0;
}
