/* tensormap.h: the tensor maps of the model files this process reads, for corrupt rules with
 * region = tensors, and under `mlchaos trace` (which recognises every file opened, to show
 * the model files first with their format and tensor count: trace.h). A file is recognised once
 * (formats/tensors.h) when it is opened, or on the first decision that needs it when the library
 * did not see it opened; its map is shared by every fd of the same file (device, inode, size,
 * modification time), found from an fd through the fd table's tag (kept right across dup, close and
 * fork), and never freed. Runs with the guard held: reads with the real pread, memory from the real
 * mmap. */
#ifndef MC_TENSORMAP_H
#define MC_TENSORMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "formats/tensors.h"

/* Files with a map (or a malformed one) the process keeps at most; past that, files are left
 * alone and the log says so once. */
#define MC_TMAP_FILES 256

enum mc_tmap_status {
	MC_TMAP_READY,     /* a map: damage its tensors */
	MC_TMAP_NONE,      /* not a tensor file, not a regular file, or unreadable: nothing */
	MC_TMAP_MALFORMED, /* a known format, malformed or past the limits: nothing */
	MC_TMAP_FULL,      /* no room for this file's map: nothing */
};

struct mc_tmap_use {
	struct mc_tensor_view view; /* READY */
	const char *format;         /* READY, MALFORMED: "safetensors", "gguf", ... */
	/* MALFORMED and FULL: why nothing is damaged, the first time only (once per file, once
	 * per process for FULL): NULL afterwards, so that a file gets one log line, not one per
	 * read */
	const char *note;
	/* format = raw: the declared map view.map points into, and the note's text */
	struct mc_tensor_raw raw;
	char raw_why[160];
};

/* fd was just opened, and a rule with region = tensors may target its file: recognise it
 * (unless known already) and tag fd. Files opened write-only, empty, or not regular are left
 * for later. Guard held; keeps errno. */
void mc_tmap_opened(int fd);

/* The map to corrupt with, for a decision of rule (region = tensors) on fd: from fd's tag
 * when it still names the file open on fd, else by recognising the file now; for a format =
 * raw rule, the declared map in ret->raw (MALFORMED when the file ends before the declared
 * offset, with a note once per rule and process). The match
 * bitmap of the rule's tensor glob is computed once per map and glob, on first use. Guard
 * held; keeps errno. */
enum mc_tmap_status mc_tmap_for(int fd, const struct mc_erule *rule, struct mc_tmap_use *ret);

/* True when fd is known to hold nothing a region = tensors rule could damage: recognised as
 * no model file, or as a malformed one (or one past the table) that the log has named
 * already. False when unknown or when it has a map. Cheap (the fd's tag and its entry), no
 * system call: asked before each decision of a hook with such rules. */
bool mc_tmap_nothing_to_damage(int fd);

/* What a recognised model file is, for `mlchaos trace`'s report. */
struct mc_tmap_about {
	const char *format; /* "safetensors", "gguf", ...: mc_tensor_format_name */
	uint32_t tensors;   /* 0 when malformed */
	const char *why;    /* malformed: the recogniser's one line; NULL when well formed */
};

/* The tag mc_tmap_opened left on fd when its file is a model file (a format with tensors,
 * well formed or not), else 0. Cheap: the fd's tag. */
uint16_t mc_tmap_model_tag(int fd);

/* What the model file of tag (from mc_tmap_model_tag) is: true and *ret filled, or false when
 * tag names no published entry. Lock-free, async-signal-safe (reads only). */
bool mc_tmap_about(uint16_t tag, struct mc_tmap_about *ret);

#endif
