"""bookinfo-harness: apply Istio routing to Bookinfo, drive traffic, classify pages, decide verdicts."""
