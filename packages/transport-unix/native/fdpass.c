// fdpass: a unix stream socket driven from JavaScript with sendmsg/recvmsg, so that file
// descriptors (SCM_RIGHTS) travel with the bytes they were written with.
//
// Node's own net.Socket reads with read(2), which drops ancillary data, so a socket that may
// receive descriptors must be read with recvmsg(2). This addon owns such a socket: it watches it
// with a uv_poll_t on Node's loop and reports events to one JavaScript callback:
//   callback(1, buffer, fds|undefined)  data arrived (fds: descriptors that came with it)
//   callback(2)                          the peer ended its side (EOF)
//   callback(3, errno)                   a read or poll error; reading stops
//   callback(4)                          the socket is writable again (after send returned -EAGAIN)
// Writes are synchronous and non-blocking: send() returns the number of bytes taken or -errno.
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#define READ_SIZE (256 * 1024)
#define MAX_FDS 253 /* SCM_MAX_FD on Linux */
#define MAX_IOV 1024
#define READS_PER_POLL 32
/* After a read this big, the next one asks the kernel how much is queued (FIONREAD) and receives
 * straight into the buffer JavaScript gets: bulk bytes are not copied. Small reads (messages) skip
 * the extra syscall and copy from the static buffer. */
#define DIRECT_READ_AFTER (32 * 1024)

typedef struct sock {
  uv_poll_t poll;
  int fd;
  int events;          /* UV_READABLE | UV_WRITABLE currently asked for */
  int closed;          /* close() was called */
  int in_callback;     /* guards against freeing while JS runs */
  napi_env env;
  napi_ref callback;
  napi_ref self;
  napi_async_context async;
  ssize_t last_read;   /* size of the previous read: a big one makes the next read direct */
} sock_t;

static char read_buffer[READ_SIZE];

#define CHECK(call)                                                                           \
  do {                                                                                        \
    if ((call) != napi_ok) {                                                                  \
      napi_throw_error(env, NULL, "fdpass: N-API call failed: " #call);                       \
      return NULL;                                                                            \
    }                                                                                         \
  } while (0)

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static int set_nonblock_cloexec(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
  int fdflags = fcntl(fd, F_GETFD);
  if (fdflags < 0 || fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) < 0) return -errno;
  return 0;
}

static void call_js(sock_t *s, int argc, napi_value *argv) {
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value cb, recv = NULL, result;
  if (napi_get_reference_value(env, s->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_reference_value(env, s->self, &recv) == napi_ok && recv != NULL) {
    napi_callback_scope cscope;
    napi_value resource;
    napi_get_reference_value(env, s->self, &resource);
    napi_open_callback_scope(env, resource, s->async, &cscope);
    napi_make_callback(env, s->async, recv, cb, (size_t)argc, argv, &result);
    napi_close_callback_scope(env, cscope);
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void update_poll(sock_t *s);

static void emit_simple(sock_t *s, int event, int arg, int with_arg) {
  napi_handle_scope scope;
  napi_open_handle_scope(s->env, &scope);
  napi_value argv[2];
  argv[0] = make_int(s->env, event);
  if (with_arg) argv[1] = make_int(s->env, arg);
  call_js(s, with_arg ? 2 : 1, argv);
  napi_close_handle_scope(s->env, scope);
}

static void on_readable(sock_t *s) {
  for (int i = 0; i < READS_PER_POLL && !s->closed && (s->events & UV_READABLE); i++) {
    char control[CMSG_SPACE(MAX_FDS * sizeof(int))];
    napi_env env = s->env;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value direct = NULL;
    void *direct_data = NULL;
    size_t direct_size = 0;
    int queued = 0;
    if (s->last_read >= DIRECT_READ_AFTER && ioctl(s->fd, FIONREAD, &queued) == 0 && queued >= DIRECT_READ_AFTER) {
      direct_size = queued < READ_SIZE ? (size_t)queued : READ_SIZE;
      if (napi_create_buffer(env, direct_size, &direct_data, &direct) != napi_ok) direct = NULL;
    }
    struct iovec iov = {direct ? direct_data : read_buffer, direct ? direct_size : READ_SIZE};
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(s->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      int err = errno;
      napi_close_handle_scope(env, scope);
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR) continue;
      s->events &= ~UV_READABLE;
      update_poll(s);
      emit_simple(s, 3, err, 1);
      return;
    }
    s->last_read = n;
    int fds[MAX_FDS];
    int nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int k = 0; k < count && nfds < MAX_FDS; k++) memcpy(&fds[nfds++], CMSG_DATA(c) + k * sizeof(int), sizeof(int));
      }
    }
    if (n == 0 && nfds == 0) {
      napi_close_handle_scope(env, scope);
      s->events &= ~UV_READABLE;
      update_poll(s);
      emit_simple(s, 2, 0, 0);
      return;
    }
    napi_value argv[3];
    argv[0] = make_int(env, 1);
    void *data;
    if (direct && (size_t)n == direct_size) argv[1] = direct;
    else napi_create_buffer_copy(env, (size_t)n, direct ? direct_data : read_buffer, &data, &argv[1]);
    if (nfds > 0) {
      napi_create_array_with_length(env, (size_t)nfds, &argv[2]);
      for (int k = 0; k < nfds; k++) napi_set_element(env, argv[2], (uint32_t)k, make_int(env, fds[k]));
    } else {
      napi_get_undefined(env, &argv[2]);
    }
    call_js(s, 3, argv);
    napi_close_handle_scope(env, scope);
    if (msg.msg_flags & MSG_CTRUNC) {
      /* More descriptors than we can take: the kernel closed the rest. Report it as an error. */
      if (!s->closed) {
        s->events &= ~UV_READABLE;
        update_poll(s);
        emit_simple(s, 3, EMSGSIZE, 1);
      }
      return;
    }
  }
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  sock_t *s = (sock_t *)handle->data;
  if (s->closed) return;
  if (status < 0) {
    s->events = 0;
    update_poll(s);
    emit_simple(s, 3, -status, 1);
    return;
  }
  if (events & UV_READABLE) on_readable(s);
  if (!s->closed && (events & UV_WRITABLE) && (s->events & UV_WRITABLE)) {
    s->events &= ~UV_WRITABLE;
    update_poll(s);
    emit_simple(s, 4, 0, 0);
  }
}

static void update_poll(sock_t *s) {
  if (s->closed) return;
  if (s->events == 0) uv_poll_stop(&s->poll);
  else uv_poll_start(&s->poll, s->events, on_poll);
}

static void on_close(uv_handle_t *handle) {
  sock_t *s = (sock_t *)handle->data;
  close(s->fd);
  free(s);
}

static sock_t *unwrap_sock(napi_env env, napi_value value) {
  void *ptr = NULL;
  if (napi_unwrap(env, value, &ptr) != napi_ok || ptr == NULL) {
    napi_throw_type_error(env, NULL, "fdpass: not an open socket handle");
    return NULL;
  }
  return (sock_t *)ptr;
}

static void finalize_noop(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

/* open(fd, callback) -> handle. Takes ownership of fd (makes it non-blocking, close-on-exec). */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "fdpass.open(fd, callback): fd must be a number");
    return NULL;
  }
  int rc = set_nonblock_cloexec(fd);
  if (rc < 0) {
    napi_throw_error(env, NULL, strerror(-rc));
    return NULL;
  }
  sock_t *s = (sock_t *)calloc(1, sizeof(sock_t));
  s->fd = fd;
  s->env = env;
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  if (uv_poll_init(loop, &s->poll, fd) != 0) {
    free(s);
    napi_throw_error(env, NULL, "fdpass: uv_poll_init failed");
    return NULL;
  }
  s->poll.data = s;
  napi_value obj, name;
  CHECK(napi_create_object(env, &obj));
  CHECK(napi_wrap(env, obj, s, finalize_noop, NULL, NULL));
  CHECK(napi_create_reference(env, argv[1], 1, &s->callback));
  CHECK(napi_create_reference(env, obj, 1, &s->self));
  CHECK(napi_create_string_utf8(env, "libswarm:unix-link", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, obj, name, &s->async));
  return obj;
}

/* setPoll(handle, readable, writable) */
static napi_value js_set_poll(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = unwrap_sock(env, argv[0]);
  if (s == NULL || s->closed) return NULL;
  bool r = false, w = false;
  napi_get_value_bool(env, argv[1], &r);
  napi_get_value_bool(env, argv[2], &w);
  s->events = (r ? UV_READABLE : 0) | (w ? UV_WRITABLE : 0);
  update_poll(s);
  return NULL;
}

/* send(handle, buffers[], fds[]|undefined) -> bytes written, or -errno */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = unwrap_sock(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->closed) return make_int(env, -EBADF);
  uint32_t count = 0;
  CHECK(napi_get_array_length(env, argv[1], &count));
  if (count > MAX_IOV) count = MAX_IOV;
  struct iovec iov[MAX_IOV];
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    CHECK(napi_get_element(env, argv[1], i, &item));
    void *data;
    size_t len;
    if (napi_get_typedarray_info(env, item, NULL, &len, &data, NULL, NULL) != napi_ok) {
      napi_throw_type_error(env, NULL, "fdpass.send: chunks must be Uint8Arrays");
      return NULL;
    }
    iov[i].iov_base = data;
    iov[i].iov_len = len;
  }
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = count;
  char control[CMSG_SPACE(MAX_FDS * sizeof(int))];
  bool has_fds = false;
  napi_valuetype t;
  napi_typeof(env, argv[2], &t);
  if (argc >= 3 && t == napi_object) {
    uint32_t nfds = 0;
    CHECK(napi_get_array_length(env, argv[2], &nfds));
    if (nfds > MAX_FDS) return make_int(env, -EMSGSIZE);
    if (nfds > 0) {
      memset(control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
      struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
      for (uint32_t k = 0; k < nfds; k++) {
        napi_value item;
        int32_t fd;
        CHECK(napi_get_element(env, argv[2], k, &item));
        if (napi_get_value_int32(env, item, &fd) != napi_ok) return make_int(env, -EBADF);
        memcpy(CMSG_DATA(c) + k * sizeof(int), &fd, sizeof(int));
      }
      has_fds = true;
    }
  }
  (void)has_fds;
  ssize_t n;
  do {
    n = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return make_int(env, -errno);
  return make_int(env, n);
}

/* shutdown(handle) -> 0 or -errno: ends the outgoing direction. */
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = unwrap_sock(env, argv[0]);
  if (s == NULL) return NULL;
  if (s->closed) return make_int(env, -EBADF);
  return make_int(env, shutdown(s->fd, SHUT_WR) < 0 ? -errno : 0);
}

/* close(handle): stops watching and closes the descriptor. Idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *ptr = NULL;
  if (napi_remove_wrap(env, argv[0], &ptr) != napi_ok || ptr == NULL) return NULL;
  sock_t *s = (sock_t *)ptr;
  s->closed = 1;
  uv_poll_stop(&s->poll);
  napi_delete_reference(env, s->callback);
  napi_delete_reference(env, s->self);
  napi_async_destroy(env, s->async);
  uv_close((uv_handle_t *)&s->poll, on_close);
  return NULL;
}

/* peerCredentials(handle) -> { pid, uid, gid } (Linux SO_PEERCRED) or undefined. */
static napi_value js_peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  sock_t *s = unwrap_sock(env, argv[0]);
  if (s == NULL) return NULL;
#ifdef SO_PEERCRED
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(s->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
    napi_value out;
    CHECK(napi_create_object(env, &out));
    napi_set_named_property(env, out, "pid", make_int(env, cred.pid));
    napi_set_named_property(env, out, "uid", make_int(env, cred.uid));
    napi_set_named_property(env, out, "gid", make_int(env, cred.gid));
    return out;
  }
#endif
  return NULL;
}

/* connect(path) -> fd, or -errno. A non-blocking connect: a full backlog gives -EAGAIN. */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "fdpass.connect(path): path must be a string");
    return NULL;
  }
  if (len >= sizeof addr.sun_path - 1) return make_int(env, -ENAMETOOLONG);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_int(env, -errno);
  int rc;
  do {
    rc = connect(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    close(fd);
    return make_int(env, -err);
  }
  return make_int(env, fd);
}

/* dup(fd) -> a new close-on-exec descriptor for the same open file, or -errno. */
static napi_value js_dup(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "fdpass.dup(fd): fd must be a number");
    return NULL;
  }
  int out = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  return make_int(env, out < 0 ? -errno : out);
}

/* closeFd(fd) -> 0 or -errno: closes a bare descriptor (one received but not used). */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (napi_get_value_int32(env, argv[0], &fd) != napi_ok) return NULL;
  return make_int(env, close(fd) < 0 ? -errno : 0);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"setPoll", NULL, js_set_poll, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"dup", NULL, js_dup, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, js_close_fd, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
