package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/tokend/tokend/sdk"
)

func Example() {
	ctx := context.Background()
	c := sdk.New("https://tokend.example.com", os.Getenv("TOKEND_LICENSE"),
		sdk.WithHTTPClient(&http.Client{Timeout: 30 * time.Second}))

	created, err := c.CreateToken(ctx, sdk.CreateTokenRequest{
		Name:           "alice",
		Note:           "enterprise plan",
		ExpirationDate: time.Now().Add(30 * 24 * time.Hour).Unix(),
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("hand this to alice, it is shown only once:", created.Secret)

	// Move the token to another model: unassign, then assign.
	if _, err := c.AssignModel(ctx, created.Token.ID, "model-b"); errors.Is(err, sdk.ErrAlreadyAssigned) {
		if _, err := c.UnassignModel(ctx, created.Token.ID); err != nil {
			log.Fatal(err)
		}
		if _, err := c.AssignModel(ctx, created.Token.ID, "model-b"); err != nil {
			log.Fatal(err)
		}
	}
}

func ExampleClient_AllTokens() {
	c := sdk.New("https://tokend.example.com", os.Getenv("TOKEND_LICENSE"))
	for tok, err := range c.AllTokens(context.Background(), sdk.ListOptions{
		Status: []sdk.Status{sdk.StatusActive},
		Sort:   sdk.SortExpirationDate,
	}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(tok.ID, tok.Name, tok.Expires())
	}
}

func ExampleClient_UpdateToken() {
	c := sdk.New("https://tokend.example.com", os.Getenv("TOKEND_LICENSE"))
	ctx := context.Background()
	tok, err := c.GetToken(ctx, "3f0c…")
	if err != nil {
		log.Fatal(err)
	}
	// Rename and clear the note in one event, unless someone changed the
	// token since we read it. The expiration, status and model stay as
	// they are: their fields are absent.
	var meta sdk.Meta
	_, err = c.UpdateToken(ctx, tok.ID, sdk.UpdateTokenRequest{
		Name: sdk.Some("alice (legacy)"),
		Note: sdk.Null[string](),
	}, sdk.IfMatch(tok.Version), sdk.WithResponseMeta(&meta))
	if errors.Is(err, sdk.ErrVersionConflict) {
		log.Fatal("changed meanwhile: read it again")
	}
	// Another process can read this write with sdk.MinSequence(meta.Sequence).
	fmt.Println(meta.Version, meta.Sequence)
}
