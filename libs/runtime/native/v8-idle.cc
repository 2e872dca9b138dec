/*
 * v8-idle.node: one function, lowMemory(), that tells V8 the process is short of memory
 * (Isolate::LowMemoryNotification).
 *
 * Why: a full collection (gc()) frees objects but V8 keeps the old-generation pages it compacted only
 * partly; after a burst the builder held 14.5 MB of old space for 8.5 MB of live objects. The low-memory
 * path collects until nothing more is freed with the memory-reducing flags (more pages compacted, pooled
 * pages released): 13.4 MB committed instead of 19.9, 7 MB less resident. Node has no binding for it (not
 * even in Node-API), so this uses V8's C++ API against the headers of the node that builds it; the loader
 * falls back to gc() when it cannot load (another Node version).
 */
#include <node.h>
#include <v8.h>

static void LowMemory(const v8::FunctionCallbackInfo<v8::Value>& args) {
  args.GetIsolate()->LowMemoryNotification();
}

static void Init(v8::Local<v8::Object> exports) {
  NODE_SET_METHOD(exports, "lowMemory", LowMemory);
}

NODE_MODULE(NODE_GYP_MODULE_NAME, Init)
