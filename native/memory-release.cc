/*
 * nimbus-memory-release.node: an addon with one function, release(), which gives the kernel back
 * the memory an idle server no longer uses. Node offers neither half of it:
 * - V8's LowMemoryNotification: full collections that compact the old generation, shrink the
 *   young one and free the heap's pooled pages, where a plain collection (gc()) leaves the heap
 *   at its committed size. It is V8's own API for "free what you can", as embedders call it when
 *   they go into the background.
 * - glibc's malloc_trim(0): returns the free pages inside every malloc arena, which free() keeps
 *   (buffers, the compiler's zones and SQLite's allocations, freed in the middle of an arena).
 * Each takes tens of milliseconds on a heap of tens of MB, so it is for quiet moments only
 * (src/server/idle-collector.ts).
 */
#include <malloc.h>
#include <node_api.h>
#include <v8.h>

static napi_value Release(napi_env env, napi_callback_info) {
  v8::Isolate::GetCurrent()->LowMemoryNotification();
  malloc_trim(0);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  return undefined;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "release", NAPI_AUTO_LENGTH, Release, nullptr, &fn);
  napi_set_named_property(env, exports, "release", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
