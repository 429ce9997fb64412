#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace vk {

// The HTTP_GET response head when it is plain: what the connector needs to finish a check
// without handing the response to JS. The rules are those of the JS reader
// (src/check/probes/http-response.ts), and a property test holds the two together; anything the
// fast path does not cover is "not plain", and the connector then hands the bytes to JS, which
// parses them as before.
struct PlainHead {
  int status = 0;
  size_t status_end = 0;  // the status line is [0, status_end)
  size_t body_start = 0;  // just after the head's empty line
  bool no_body = false;   // 1xx, 204, 304
  int64_t content_length = -1;  // -1: none (the body runs to the server's FIN)
};

enum class HeadParse { kIncomplete, kNotPlain, kPlain };

// Plain: the head is complete in b[0, n), its status line is one the JS reader accepts, there is
// no Transfer-Encoding header, and at most one Content-Length whose value is 1 to 15 digits.
HeadParse ParsePlainHead(const uint8_t* b, size_t n, PlainHead* out);

// parsePlainHttpHead(bytes: Uint8Array) -> 'incomplete' | 'not plain' | { status, statusEnd,
// bodyStart, noBody, contentLength }: the parser alone, for the property test.
Napi::Value JsParsePlainHttpHead(const Napi::CallbackInfo& info);

}  // namespace vk
