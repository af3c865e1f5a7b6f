rm -rf "$sys/bus/pci/drivers/vfio-pci"
