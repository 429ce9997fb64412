{
  "targets": [
    {
      "target_name": "vipkeeper_native",
      "sources": [
        "src/addon.cc",
        "src/common.cc",
        "src/raw_socket.cc",
        "src/packet_socket.cc",
        "src/sd_notify.cc",
        "src/netlink.cc",
        "src/sched.cc",
        "src/timer.cc",
        "src/tcp_connect.cc",
        "src/probe_socket.cc",
        "src/http_head.cc",
        "src/signal_watch.cc",
        "src/proc_events.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
    }
  ]
}
