/* initrd.h - the guest's initramfs: the agent as /init plus kernel modules */
#ifndef FC_INITRD_H
#define FC_INITRD_H

struct fc_err;

/*
 * Write a newc cpio archive to path holding agent as /init, and the
 * modules listed in kernel_dir/modules.load (from kernel_dir/modules/)
 * as /modules/NAME.ko with their order in /modules/load.
 */
int initrd_write(const char *path, const char *agent, const char *kernel_dir,
		 struct fc_err *e);

#endif
