/* Secrets planted where a crash picks them up (tests/privacy): the command line
 * (--password=..., --token ..., -k ..., a URL with a password), the environment
 * (AWS_SECRET_ACCESS_KEY, AWS_ACCESS_KEY_ID, LC_SECRET_TOKEN, MALLOC_PASSWORD, API_BEARER,
 * SESSION_SEED), locals holding getenv() results, a struct member holding a bearer token, a
 * local pointing at an argument, a local named like a secret holding a derived value.
 * Every secret comes from the environment or argv at run time: none is in this source or in
 * the binary, so finding one in a snapshot means it was read from the process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct request {
    int id;
    char header[96];
};

__attribute__((noinline)) static void send_request(struct request *req, const char *key,
                                                   const char *first)
{
    volatile int *target = NULL;
    *target = req->id + (int)strlen(key) + (int)strlen(first); /* SIGSEGV */
}

int main(int argc, char **argv)
{
    const char *key = getenv("AWS_SECRET_ACCESS_KEY");
    const char *access = getenv("AWS_ACCESS_KEY_ID");
    const char *bearer = getenv("API_BEARER");
    const char *first = argc > 1 ? argv[1] : "";
    char session_id[48];
    struct request req = {.id = argc};
    snprintf(session_id, sizeof session_id, "sid-%s", getenv("SESSION_SEED") ?: "");
    snprintf(req.header, sizeof req.header, "Bearer %s", bearer ? bearer : "");
    send_request(&req, key ? key : "", access ? first : session_id);
    return 0;
}
