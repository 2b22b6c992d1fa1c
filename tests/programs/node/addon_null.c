/* A Node-API addon whose function dereferences NULL (built with gcc -shared, no node-gyp). */
#include <node_api.h>
#include <stddef.h>

struct record {
  int id;
  const char *name;
};

static int record_id(const struct record *r) {
  return r->id;
}

static napi_value crash(napi_env env, napi_callback_info info) {
  const struct record *volatile found = NULL;
  napi_value out;
  (void)info;
  napi_create_int32(env, record_id(found), &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "crash", NAPI_AUTO_LENGTH, crash, NULL, &fn);
  napi_set_named_property(env, exports, "crash", fn);
  return exports;
}
