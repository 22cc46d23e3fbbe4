// An ordinary shared library with no crmsync descriptor.
extern "C" __attribute__((visibility("default"))) int not_a_plugin_answer(void) { return 42; }
