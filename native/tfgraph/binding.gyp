{
  "targets": [
    {
      "target_name": "coordrl_tfgraph",
      "sources": ["tfgraph.c"],
      "include_dirs": ["<(module_root_dir)/../../node_modules/@tensorflow/tfjs-node/deps/include"],
      "libraries": [
        "-L<(module_root_dir)/../../node_modules/@tensorflow/tfjs-node/deps/lib",
        "-ltensorflow",
        "-Wl,-rpath,<(module_root_dir)/../../node_modules/@tensorflow/tfjs-node/deps/lib"
      ],
      "cflags": ["-O2", "-Wall", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
