{
  "variables": {
    "tf_deps%": "<(module_root_dir)/../../node_modules/@tensorflow/tfjs-node/deps"
  },
  "targets": [
    {
      "target_name": "coordrl_tfgraph",
      "sources": ["tfgraph.c"],
      "include_dirs": ["<(tf_deps)/include"],
      "libraries": ["-L<(tf_deps)/lib", "-ltensorflow", "-Wl,-rpath,<(tf_deps)/lib"],
      "cflags": ["-O2", "-Wall", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
