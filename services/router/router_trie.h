/*  router_trie: the wildcard patterns of the index, as a trie over
    '.'-separated components.

    Each node has a map of literal children, one branch for the empty
    component (which matches any one component, WAMP wildcard matching), and
    the topic entry of the pattern ending there. Matching a topic of C
    components visits only the nodes whose pattern prefix agrees with the
    topic's first components: O(L) to split and hash the topic, plus one
    probe and one pointer per visited node; patterns that diverge from the
    topic cost nothing. Nodes are pruned as soon as nothing lives below them.
*/
#ifndef ROUTER_TRIE_H
#define ROUTER_TRIE_H

#include <stdbool.h>
#include <stddef.h>

#include "router_index.h"

typedef struct _router_trie_t router_trie_t;

/* Caller owns the result. The bytes the trie
   allocates are added to (and, when freed, subtracted from) *account. */
router_trie_t *router_trie_new(size_t *account);

/* Frees the nodes (not the entries: every slot must be empty by now);
   safe on NULL and twice. */
void router_trie_destroy(router_trie_t **self_p);

/* The slot holding the entry of `pattern` (NULL in it when there is none
   yet); with `create`, the missing nodes are built. Borrowed; valid until
   router_trie_prune. NULL when absent, on allocation failure (what was
   built is pruned), or when the pattern has too many components. */
router_entry_t **router_trie_slot(router_trie_t *self, const char *pattern, bool create);

/* After the caller emptied the slot of `pattern`: frees the nodes of its
   path that hold nothing any more. */
void router_trie_prune(router_trie_t *self, const char *pattern);

/* Calls fn with each entry whose pattern matches `topic` (len bytes);
   returns the sum of what fn returned. No allocation. */
typedef size_t(router_trie_fn)(const router_entry_t *entry, void *arg);
size_t router_trie_match(const router_trie_t *self, const char *topic, size_t len,
                         router_trie_fn *fn, void *arg);

#endif
