/* handler.h: what the reference server answers to one complete request, as response bytes,
 * independent of sockets (so tests can drive it, and fail its allocations one by one).
 * Never crashes on a failed allocation: the answer becomes a 503 built without the heap. */
#ifndef MC_HANDLER_H
#define MC_HANDLER_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "http.h"
#include "registry.h"

/* Responses are small: class, scores, a path. Anything bigger is a bug, answered 500. */
#define MC_HANDLER_MAX_RESPONSE_BYTES (256u << 10)

struct mc_handler {
	struct mc_registry *reg;
};

struct mc_reply {
	int status;
	bool close;                       /* close the connection after sending */
	struct mc_buf heap;               /* the response, when it could be built */
	char fixed[MC_HTTP_STATIC_BYTES]; /* or an error built without allocating */
	size_t fixed_len;
};

/* Answer req (its body is body[0..body_len)) into *reply, which the caller frees with
 * mc_reply_free. Routes: POST /predict, GET /health, GET /model; 404 and 405 otherwise. */
void mc_handle(struct mc_handler *h, const struct mc_http_req *req, const char *body,
               size_t body_len, struct mc_reply *reply);

/* An error answer built without allocating: used by the connection layer too. */
void mc_reply_error(struct mc_reply *reply, int status, const char *request_id, bool close,
                    const char *message);

/* The bytes to send. */
const char *mc_reply_bytes(const struct mc_reply *reply, size_t *ret_len);
void mc_reply_free(struct mc_reply *reply);

#endif
