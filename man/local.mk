# SPDX-License-Identifier: MIT
# Manual pages, included by the top-level Makefile.am (paths from the top).
# One section 3 page per public function: functions that belong together
# share a page, and the others are one-line .so stubs pointing at it.
# coop(7) is the overview.  man/check-man.sh keeps them in step with coop.h
# and coop-loop.h.

dist_man_MANS = \
	man/coop.7 \
	man/coop_accept.3 \
	man/coop_attr_init.3 \
	man/coop_backend.3 \
	man/coop_catch_overflow.3 \
	man/coop_connect.3 \
	man/coop_create.3 \
	man/coop_create_attr.3 \
	man/coop_enter.3 \
	man/coop_enter_if_inactive.3 \
	man/coop_entered.3 \
	man/coop_fd_wait.3 \
	man/coop_get_state.3 \
	man/coop_home.3 \
	man/coop_in_coroutine.3 \
	man/coop_interrupt.3 \
	man/coop_locks_held.3 \
	man/coop_loop_hold.3 \
	man/coop_loop_poll.3 \
	man/coop_loop_release.3 \
	man/coop_loop_run.3 \
	man/coop_loop_self.3 \
	man/coop_mutex_init.3 \
	man/coop_mutex_lock.3 \
	man/coop_mutex_trylock.3 \
	man/coop_mutex_unlock.3 \
	man/coop_name.3 \
	man/coop_pool_drain.3 \
	man/coop_pool_set_max.3 \
	man/coop_pool_size.3 \
	man/coop_queue_empty.3 \
	man/coop_queue_init.3 \
	man/coop_queue_next.3 \
	man/coop_queue_restart_all.3 \
	man/coop_queue_wait.3 \
	man/coop_read.3 \
	man/coop_rwlock_downgrade.3 \
	man/coop_rwlock_init.3 \
	man/coop_rwlock_rdlock.3 \
	man/coop_rwlock_unlock.3 \
	man/coop_rwlock_upgrade.3 \
	man/coop_rwlock_wrlock.3 \
	man/coop_schedule.3 \
	man/coop_self.3 \
	man/coop_sleep_ns.3 \
	man/coop_stack_size.3 \
	man/coop_state_name.3 \
	man/coop_version.3 \
	man/coop_wake.3 \
	man/coop_wake_home.3 \
	man/coop_write.3 \
	man/coop_yield.3

TESTS += man/check-man.sh
EXTRA_DIST += man/check-man.sh
