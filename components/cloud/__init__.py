"""Cloud layer components: network, ACK cluster, node pools, add-ons, Kubernetes access."""
